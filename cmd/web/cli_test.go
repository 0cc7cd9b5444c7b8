package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndRestoreCommands: a backup of one Keel's store restored into
// an empty one carries the users and the audit log; restoring into a
// non-empty store is refused.
func TestBackupAndRestoreCommands(t *testing.T) {
	ctx := context.Background()
	src, dst := testEnv(t.TempDir(), nil), testEnv(t.TempDir(), nil)
	var out bytes.Buffer
	if err := run(ctx, []string{"user", "create", "erin", "--role", "editor", "--password", "erin's long password"}, src, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "keel.backup")
	out.Reset()
	if err := run(ctx, []string{"backup", file}, src, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "wrote ") {
		t.Fatalf("backup said %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"restore", file}, dst, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"user", "set-role", "erin", "publisher"}, dst, &out, io.Discard); err != nil {
		t.Fatalf("restored store lacks erin: %v", err)
	}
	err := run(ctx, []string{"restore", file}, dst, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore into a non-empty store: %v", err)
	}
}

func TestUserAndTokenCommands(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t.TempDir(), nil)
	var out bytes.Buffer
	if err := run(ctx, []string{"user", "create", "fred", "--role", "viewer"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "password: ") {
		t.Fatalf("no generated password shown: %q", out.String())
	}
	if err := run(ctx, []string{"user", "create", "fred", "--role", "viewer"}, env, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate user: %v", err)
	}
	if err := run(ctx, []string{"user", "reset-password", "fred", "--password", "short"}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("accepted a short password")
	}
	out.Reset()
	if err := run(ctx, []string{"token", "create", "--name", "ci", "--role", "editor", "--env", "staging"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	if !strings.HasPrefix(tok, "keel_") {
		t.Fatalf("token create printed %q", out.String())
	}
	if err := run(ctx, []string{"token", "create", "--name", "ci", "--role", "editor", "--env", "nowhere"}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("accepted an unknown environment")
	}
	id := tok[len("keel_") : len("keel_")+12]
	out.Reset()
	if err := run(ctx, []string{"token", "revoke", id}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"token", "revoke", id}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("revoked twice")
	}
}

func TestSecretsRotateCommand(t *testing.T) {
	ctx := context.Background()
	env := testEnv(t.TempDir(), nil)
	var out bytes.Buffer
	if err := run(ctx, []string{"secrets", "rotate"}, env, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "data key k") {
		t.Fatalf("rotate said %q", out.String())
	}
}
