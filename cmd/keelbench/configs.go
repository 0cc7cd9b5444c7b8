package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/store"
)

// seedBatch is how many keys one store.ApplyConfigs call writes.
const seedBatch = 500

// settingsPerService is how many keys share one "svc-NNN." prefix.
const settingsPerService = 20

// seedKey is the i-th seeded key: svc-000.setting-0, svc-000.setting-1, ...
func seedKey(i int) string {
	return fmt.Sprintf("svc-%03d.setting-%d", i/settingsPerService, i%settingsPerService)
}

// seedWrite is the i-th seeded key with a value of one of the four plain
// types, as an application's configuration mixes them. Every fifth key has
// a description and every seventh a tag, as a maintained instance would.
func seedWrite(i int) store.ConfigWrite {
	svc := i / settingsPerService
	w := store.ConfigWrite{Key: seedKey(i)}
	switch i % 5 {
	case 0:
		w.Type, w.Value = config.TypeString, fmt.Sprintf("https://svc-%03d.internal:8443/v1", svc)
	case 1:
		w.Type, w.Value = config.TypeNumber, strconv.Itoa(i*37%10000)
	case 2:
		w.Type, w.Value = config.TypeBoolean, strconv.FormatBool(i%3 == 0)
	case 3:
		w.Type, w.Value = config.TypeJSON, fmt.Sprintf(`{"enabled":%t,"limit":%d,"regions":["eu-west-1","us-east-1"]}`, i%2 == 0, 100+i%900)
	case 4:
		w.Type, w.Value = config.TypeString, strconv.Itoa(50*(1+i%20))+"ms"
	}
	if i%5 == 0 {
		w.Description = fmt.Sprintf("Endpoint of service %03d.", svc)
	}
	if i%7 == 0 {
		w.Tags = []string{"bench", "svc-" + strconv.Itoa(svc%10)}
	}
	return w
}

// seedConfigs writes keys 0 to n-1 into env (empty before) through the
// store, seedBatch per atomic step, as an import would, and checks env then
// holds n keys. It writes no secrets, so the store needs no master key.
func seedConfigs(ctx context.Context, st *store.Store, env string, n int) error {
	for from := 0; from < n; from += seedBatch {
		to := min(from+seedBatch, n)
		writes := make([]store.ConfigWrite, 0, to-from)
		for i := from; i < to; i++ {
			writes = append(writes, seedWrite(i))
		}
		if _, err := st.ApplyConfigs(ctx, benchActor, env, "import", writes); err != nil {
			return fmt.Errorf("keys %d to %d: %w", from, to-1, err)
		}
	}
	_, _, total, err := st.ListConfigs(ctx, env, store.ConfigQuery{Limit: 1})
	if err != nil {
		return err
	}
	if total != int64(n) {
		return fmt.Errorf("%s holds %d keys after seeding %d", env, total, n)
	}
	return nil
}
