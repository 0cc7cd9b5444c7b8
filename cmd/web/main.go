// Command keel is Keel's one binary: the dashboard server (serve, the
// default) and the administrative commands (user, token, backup, restore).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "keel:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "keel:", err)
		os.Exit(1)
	}
}

// usageError is a mistake in the command line (exit code 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

const usage = `Usage: keel [command] [flags]

Commands:
  serve                          run the dashboard (the default)
  user create NAME --role R [--password P]
  user set-role NAME ROLE
  user reset-password NAME [--password P]
  token create --name N --role R [--env E] [--expires-days D] [--read-secrets]
  token revoke ID
  secrets rotate [--master-key K] make a new data key and re-seal every secret (resumable)
  backup FILE                    write a snapshot of every Keel key
  restore FILE                   load a snapshot into an empty store
  version

Every command uses REDIS_URL, or the embedded Redis under KEEL_DATA_DIR.
Run "keel COMMAND -h" for a command's flags.
`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "user":
		return userCommand(ctx, args, getenv, stdout, stderr)
	case "token":
		return tokenCommand(ctx, args, getenv, stdout, stderr)
	case "secrets":
		return secretsCommand(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backupCommand(ctx, args, getenv, stdout, stderr)
	case "restore":
		return restoreCommand(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "keel", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
