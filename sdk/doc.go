// Package sdk is the Go client for Keel's configuration: it loads one
// environment's configuration into memory, keeps it current from Keel's
// watch stream, and serves reads without locks or allocations.
//
// Usage:
//
//	c, err := sdk.New("https://keel.example.com", os.Getenv("KEEL_TOKEN"), "production",
//		sdk.WithLastKnownGood("/var/lib/myapp/keel.json"))
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
//	defer cancel()
//	if err := c.WaitReady(ctx); err != nil {
//		return err // neither Keel nor the last-known-good file answered
//	}
//	host := c.String("db.host", "localhost")
//	pool := c.Int("db.pool.size", 10)
//	timeout := c.Duration("http.timeout", 5*time.Second)
//	c.OnChange(func(ch sdk.Change) {
//		log.Printf("%s %s", ch.Action, ch.Key)
//	})
//
// # How it stays current
//
// New starts one goroutine. It fetches the snapshot
// (GET /api/v1/envs/{env}/configs), remembers its ETag and the watch
// position Keel reports with it (Keel-Watch-Position), then follows the
// server-sent event stream GET /api/v1/envs/{env}/watch. Each change event
// carries the key's new effective value (or its deletion); the client
// applies it to a new immutable snapshot, publishes that with an atomic
// pointer swap, moves its position to the event's id, and then calls the
// OnChange callbacks. When the stream breaks, the client reconnects with
// Last-Event-ID set to the last event it applied, so Keel replays every
// change it missed. When Keel can no longer replay from that id it sends a
// reset event; the client then refetches the snapshot (If-None-Match: a 304
// keeps the values held), reports what differs through OnChange, and
// watches on from the new position. Reconnections back off exponentially
// with full jitter (WithBackoff); a stream silent for longer than the idle
// timeout (Keel pings every 15 to 20 seconds) is treated as dead.
//
// # Reads
//
// Each value is parsed when it arrives into every form the getters serve,
// so String, Int, Float, Bool and Duration are one atomic load and one map
// lookup. They return the default when the key is absent, when its value
// cannot be read as the type asked for (Bool of a number, Int of 12.5), and
// for a secret the token may not read (Masked reports those). JSON decodes
// a value into any Go value; Lookup returns it with its type, version and
// the environment it is inherited from.
//
// # Last known good
//
// With WithLastKnownGood the client saves the configuration to a file
// after changes (atomically, mode 0600) and, when Keel cannot be reached
// at start, serves the file's values (Status().Source is SourceFile) while
// it keeps trying Keel. The file holds readable secrets in clear.
package sdk
