// Package demo loads Keel's demo data set (make run passes -demo) into an
// empty store. Each feature adds its part here; loading is idempotent.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
)

// Actor is who the demo changes are recorded as in the audit log.
var Actor = store.Actor{Name: "demo", Role: "system", RequestID: "demo"}

// Users are the demo people. Their passwords are random and not printed:
// an admin resets one to sign in as that person.
var Users = []struct{ Name, Role string }{
	{"alice", "publisher"},
	{"bob", "editor"},
	{"carol", "viewer"},
}

// Load adds each part of the demo data whose feature holds nothing yet:
// people, environments and a token when the store holds no more than the
// first admin; configuration when there is none. It reports whether it
// loaded anything. The store needs its secrets sealer.
func Load(ctx context.Context, st *store.Store) (bool, error) {
	people, err := loadPeople(ctx, st)
	if err != nil {
		return false, err
	}
	configs, err := loadConfigs(ctx, st)
	if err != nil {
		return false, err
	}
	return people || configs, nil
}

func loadPeople(ctx context.Context, st *store.Store) (bool, error) {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return false, err
	}
	if n > 1 {
		return false, nil
	}
	if _, err := st.GetUser(ctx, Users[0].Name); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	for _, u := range Users {
		hash, err := auth.HashPassword(auth.RandomPassword(24))
		if err != nil {
			return false, err
		}
		if _, err := st.CreateUser(ctx, Actor, store.User{Name: u.Name, Role: u.Role, PasswordHash: hash}); err != nil &&
			!errors.Is(err, store.ErrConflict) {
			return false, fmt.Errorf("demo user %s: %w", u.Name, err)
		}
	}
	if _, err := st.CreateEnvironment(ctx, Actor, store.Environment{Name: "qa", Color: "#8b5cf6", Parent: "staging", Order: 4}); err != nil &&
		!errors.Is(err, store.ErrConflict) {
		return false, fmt.Errorf("demo environment: %w", err)
	}
	if _, _, err := auth.NewTokens(st).Issue(ctx, Actor, auth.TokenSpec{Name: "ci-deploy", Role: auth.Editor, Env: "staging"}); err != nil {
		return false, fmt.Errorf("demo token: %w", err)
	}
	return true, nil
}
