// Command example shows the Keel Go SDK at work: it loads an environment's
// configuration, prints it, then prints each change as it arrives, until
// interrupted.
//
//	go run ./sdk/example -url http://localhost:8080 -token "$KEEL_TOKEN" -env development
//
// Flags fall back to KEEL_URL, KEEL_TOKEN, KEEL_ENV and
// KEEL_LAST_KNOWN_GOOD. Secret values are never printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keelhq/keel/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	or := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("url", or("KEEL_URL", "http://localhost:8080"), "Keel base URL (KEEL_URL)")
	token := fs.String("token", getenv("KEEL_TOKEN"), "API token (KEEL_TOKEN)")
	env := fs.String("env", or("KEEL_ENV", "development"), "environment (KEEL_ENV)")
	lkg := fs.String("last-known-good", getenv("KEEL_LAST_KNOWN_GOOD"), "file to keep the last configuration in, to start while Keel is down (KEEL_LAST_KNOWN_GOOD)")
	keys := fs.String("keys", "", "comma-separated keys to print (default: every key)")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for the first configuration")
	verbose := fs.Bool("v", false, "log the client's connection events")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *token == "" {
		return errors.New("no token: pass -token or set KEEL_TOKEN")
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	opts := []sdk.Option{sdk.WithLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))}
	if *lkg != "" {
		opts = append(opts, sdk.WithLastKnownGood(*lkg))
	}
	c, err := sdk.New(*baseURL, *token, *env, opts...)
	if err != nil {
		return err
	}
	defer c.Close()

	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	if err := c.WaitReady(wctx); err != nil {
		if st := c.Status(); st.LastError != nil {
			err = fmt.Errorf("%w (last error: %v)", err, st.LastError)
		}
		return fmt.Errorf("no configuration for %q: %w", *env, err)
	}

	st := c.Status()
	fmt.Fprintf(stdout, "environment %s, from %s\n", *env, st.Source)
	list := c.Keys()
	if *keys != "" {
		list = strings.Split(*keys, ",")
	}
	for _, key := range list {
		fmt.Fprintf(stdout, "  %s\n", describe(c, strings.TrimSpace(key)))
	}

	c.OnChange(func(ch sdk.Change) {
		switch ch.Action {
		case sdk.ActionDelete:
			fmt.Fprintf(stdout, "deleted  %s\n", ch.Key)
		default:
			fmt.Fprintf(stdout, "changed  %s\n", describe(c, ch.Key))
		}
	})
	fmt.Fprintln(stdout, "watching for changes (Ctrl-C to stop)")
	<-ctx.Done()
	return nil
}

// describe renders one key for a person: its value (secrets hidden), type,
// version and where it is inherited from.
func describe(c *sdk.Client, key string) string {
	v, ok := c.Lookup(key)
	switch {
	case c.Masked(key):
		return key + " = (secret, not readable with this token)"
	case !ok:
		return key + " = (not set)"
	}
	text := c.String(key, "")
	if v.Type == sdk.TypeSecret {
		text = "••••"
	}
	return fmt.Sprintf("%s = %s  [%s v%d from %s]", key, text, v.Type, v.Version, v.SourceEnv)
}
