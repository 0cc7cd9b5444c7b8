package demo

import (
	"context"
	"crypto/rand"
	"os"
	"testing"

	"github.com/keelhq/keel/internal/redistest"
	"github.com/keelhq/keel/store"
)

func TestMain(m *testing.M) { os.Exit(redistest.Run(m)) }

func TestLoadIsIdempotentAndValid(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := redistest.Client(t)
	st := store.New(rdb, store.WithPrefix(prefix))
	if _, err := st.EnsureDefaultEnvironments(ctx); err != nil {
		t.Fatal(err)
	}
	kek := make([]byte, 32)
	rand.Read(kek)
	sealer, err := st.OpenSecrets(ctx, kek)
	if err != nil {
		t.Fatal(err)
	}
	st.SetSealer(sealer)
	loaded, err := Load(ctx, st)
	if err != nil || !loaded {
		t.Fatalf("first load: %v %v", loaded, err)
	}
	loaded, err = Load(ctx, st)
	if err != nil || loaded {
		t.Fatalf("second load: %v %v", loaded, err)
	}
	// Real differences between environments, a history, two secrets.
	dev, _, _, err := st.ListConfigs(ctx, "development", store.ConfigQuery{Limit: 100})
	if err != nil || len(dev) < 10 {
		t.Fatalf("development: %d %v", len(dev), err)
	}
	h, err := st.ConfigHistory(ctx, "production", "db.primary")
	if err != nil || len(h) != 2 {
		t.Fatalf("history: %d %v", len(h), err)
	}
	secrets := 0
	for _, e := range dev {
		if e.Type == "secret" {
			secrets++
		}
	}
	if secrets != 2 {
		t.Fatalf("secrets in development: %d", secrets)
	}
	if _, err := st.GetSchema(ctx, "db.*"); err != nil {
		t.Fatal(err)
	}
}
