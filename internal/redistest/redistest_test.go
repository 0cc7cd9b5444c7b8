package redistest

import (
	"context"
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestSharedServerAndPrefixes(t *testing.T) {
	c, p1 := Client(t)
	_, p2 := Client(t)
	if p1 == p2 {
		t.Fatalf("prefixes should differ: %q", p1)
	}
	ctx := context.Background()
	if err := c.Set(ctx, p1+"k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, p1+"k").Val(); got != "v" {
		t.Fatalf("got %q", got)
	}
}

func TestClusterSpreadsSlots(t *testing.T) {
	c, p := Cluster(t)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := c.Set(ctx, p+k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(ClusterAddrs(t)) != 3 {
		t.Fatal("want 3 nodes")
	}
}

func TestKillAndRestartKeepsAOF(t *testing.T) {
	s := Start(t, WithArgs("--appendonly", "yes", "--appendfsync", "everysec"))
	ctx := context.Background()
	c := NewClient(s)
	defer c.Close()
	if err := c.Set(ctx, "x", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping after kill should fail")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "x").Val(); got != "1" {
		t.Fatalf("after restart got %q", got)
	}
}
