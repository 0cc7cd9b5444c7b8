package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/secret"
	"github.com/keelhq/keel/store"
)

// cliActor is who command-line changes are recorded as in the audit log.
func cliActor() store.Actor {
	u := os.Getenv("USER")
	if u == "" {
		u = "root"
	}
	return store.Actor{Name: "cli:" + u, Role: "admin", IP: "local", RequestID: "cli"}
}

// withStore opens the store the server uses (REDIS_URL, or the embedded
// Redis under the data directory, started for the command if Keel is not
// running) and runs fn with it.
func withStore(ctx context.Context, cfg config, stderr io.Writer, fn func(*store.Store) error) error {
	logger, err := newLogger(stderr, "warn")
	if err != nil {
		return err
	}
	conn, err := openRedis(ctx, cfg.RedisURL, cfg.DataDir, true, logger)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	return fn(store.New(conn.Client, store.WithPrefix(cfg.Prefix), store.WithHistoryLimit(cfg.HistoryLimit)))
}

// commandFlags parses the store flags plus extra ones, with positional
// arguments allowed before or after the flags.
func commandFlags(name string, args []string, getenv func(string) string, stderr io.Writer, extra func(*flag.FlagSet)) (config, []string, error) {
	var cfg config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg, getenv)
	if extra != nil {
		extra(fs)
	}
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return cfg, nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return cfg, pos, nil
}

func userCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"user: want create, set-role or reset-password"}
	}
	sub := args[0]
	var role, password string
	cfg, pos, err := commandFlags("user "+sub, args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&role, "role", "", "viewer, editor, publisher or admin")
		fs.StringVar(&password, "password", "", "the password; unset: random, printed once")
	})
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	need := map[string]int{"create": 1, "set-role": 2, "reset-password": 1}
	n, ok := need[sub]
	if !ok {
		return usageError{fmt.Sprintf("user: unknown subcommand %q", sub)}
	}
	if sub == "set-role" && len(pos) == 1 && role != "" {
		pos = append(pos, role)
	}
	if len(pos) != n {
		return usageError{fmt.Sprintf("user %s: wrong number of arguments", sub)}
	}
	name := pos[0]
	newPassword := func() (string, string, error) {
		pw, show := password, false
		if pw == "" {
			pw, show = auth.RandomPassword(20), true
		}
		if msg := auth.CheckPasswordPolicy(pw); msg != "" {
			return "", "", usageError{"password: " + msg}
		}
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return "", "", err
		}
		if show {
			return hash, pw, nil
		}
		return hash, "", nil
	}
	return withStore(ctx, cfg, stderr, func(st *store.Store) error {
		if _, err := st.EnsureDefaultEnvironments(ctx); err != nil {
			return err
		}
		switch sub {
		case "create":
			r, err := auth.ParseRole(role)
			if err != nil {
				return usageError{"--role: " + err.Error()}
			}
			hash, shown, err := newPassword()
			if err != nil {
				return err
			}
			if _, err := st.CreateUser(ctx, cliActor(), store.User{Name: name, Role: r.String(), PasswordHash: hash}); err != nil {
				return explain(err)
			}
			fmt.Fprintf(stdout, "created user %s (%s)\n", name, r)
			if shown != "" {
				fmt.Fprintf(stdout, "password: %s\n", shown)
			}
		case "set-role":
			r, err := auth.ParseRole(pos[1])
			if err != nil {
				return usageError{err.Error()}
			}
			if _, err := st.SetUserRole(ctx, cliActor(), name, r.String()); err != nil {
				return explain(err)
			}
			fmt.Fprintf(stdout, "user %s is now %s\n", name, r)
		case "reset-password":
			hash, shown, err := newPassword()
			if err != nil {
				return err
			}
			if err := st.SetPassword(ctx, cliActor(), name, hash, "user.reset_password", ""); err != nil {
				return explain(err)
			}
			fmt.Fprintf(stdout, "password of %s reset; their sessions have ended\n", name)
			if shown != "" {
				fmt.Fprintf(stdout, "password: %s\n", shown)
			}
		}
		return nil
	})
}

func tokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"token: want create or revoke"}
	}
	sub := args[0]
	var name, role, env string
	var days int
	var readSecrets bool
	cfg, pos, err := commandFlags("token "+sub, args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "what the token is for")
		fs.StringVar(&role, "role", "", "viewer, editor, publisher or admin")
		fs.StringVar(&env, "env", "", "limit the token to one environment")
		fs.IntVar(&days, "expires-days", 0, "expire after this many days (0: never)")
		fs.BoolVar(&readSecrets, "read-secrets", false, "let the token receive secret values from the consumer API")
	})
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if name == "" || len(pos) != 0 {
			return usageError{"token create: want --name N --role R [--env E] [--expires-days D] [--read-secrets]"}
		}
		r, err := auth.ParseRole(role)
		if err != nil {
			return usageError{"--role: " + err.Error()}
		}
		if days < 0 {
			return usageError{"--expires-days must be 0 or more"}
		}
		return withStore(ctx, cfg, stderr, func(st *store.Store) error {
			if _, err := st.EnsureDefaultEnvironments(ctx); err != nil {
				return err
			}
			if env != "" {
				if _, err := st.GetEnvironment(ctx, env); err != nil {
					return explain(fmt.Errorf("environment %s: %w", env, err))
				}
			}
			_, full, err := auth.NewTokens(st).Issue(ctx, cliActor(), auth.TokenSpec{Name: name, Role: r, Env: env,
				TTL: time.Duration(days) * 24 * time.Hour, ReadSecrets: readSecrets})
			if err != nil {
				return explain(err)
			}
			fmt.Fprintln(stdout, full)
			return nil
		})
	case "revoke":
		if len(pos) != 1 {
			return usageError{"token revoke: want the token id"}
		}
		return withStore(ctx, cfg, stderr, func(st *store.Store) error {
			if err := st.RevokeToken(ctx, cliActor(), pos[0]); err != nil {
				return explain(err)
			}
			fmt.Fprintf(stdout, "revoked token %s\n", pos[0])
			return nil
		})
	}
	return usageError{fmt.Sprintf("token: unknown subcommand %q", sub)}
}

func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, pos, err := commandFlags("backup", args, getenv, stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"backup: want the file to write"}
	}
	return withStore(ctx, cfg, stderr, func(st *store.Store) error {
		tmp := pos[0] + ".partial"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		n, err := st.Backup(ctx, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
			return explain(err)
		}
		if err := os.Rename(tmp, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d keys to %s\n", n, pos[0])
		return nil
	})
}

func restoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, pos, err := commandFlags("restore", args, getenv, stderr, nil)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"restore: want the backup file"}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	return withStore(ctx, cfg, stderr, func(st *store.Store) error {
		n, err := st.Restore(ctx, f)
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(stdout, "restored %d keys from %s\n", n, pos[0])
		return nil
	})
}

// explain turns store errors into messages for the console.
func explain(err error) error {
	var ve *store.ValidationError
	var ce *store.ConflictError
	switch {
	case errors.As(err, &ve):
		return errors.New(ve.Error())
	case errors.As(err, &ce):
		return errors.New(ce.Message)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w (nothing by that name)", err)
	}
	return err
}

func secretsCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return usageError{"secrets: want rotate"}
	}
	var masterKey string
	cfg, pos, err := commandFlags("secrets rotate", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&masterKey, "master-key", getenv("KEEL_MASTER_KEY"), "the master key [KEEL_MASTER_KEY]; unset: the key file in the data directory")
	})
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{"secrets rotate takes no arguments"}
	}
	kek, _, err := secret.LoadMasterKey(masterKey, cfg.DataDir)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, stderr, func(st *store.Store) error {
		sealer, err := st.OpenSecrets(ctx, kek)
		if err != nil {
			return err
		}
		st.SetSealer(sealer)
		rep, err := st.RotateSecrets(ctx, cliActor(), kek, sealer)
		if err != nil {
			return fmt.Errorf("rotation interrupted after %d values (run it again to finish): %w", rep.Resealed, err)
		}
		resumed := ""
		if rep.Resumed {
			resumed = " (finished an interrupted rotation)"
		}
		fmt.Fprintf(stdout, "data key %s is current; re-sealed %d values%s\n", rep.KeyID, rep.Resealed, resumed)
		return nil
	})
}
