package sdk_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/keelhq/keel/sdk"
)

func Example() {
	c, err := sdk.New("https://keel.example.com", os.Getenv("KEEL_TOKEN"), "production",
		sdk.WithLastKnownGood("/var/lib/myapp/keel-production.json"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		log.Fatalf("no configuration: %v", err)
	}

	host := c.String("db.host", "localhost")
	pool := c.Int("db.pool.size", 10)
	timeout := c.Duration("http.timeout", 5*time.Second)
	var limits struct {
		RPS   int `json:"rps"`
		Burst int `json:"burst"`
	}
	if err := c.JSON("rate.limits", &limits); err != nil {
		log.Printf("rate.limits: %v", err)
	}
	fmt.Println(host, pool, timeout, limits.RPS)

	stop := c.OnChange(func(ch sdk.Change) {
		// Runs on the client's goroutine: keep it short.
		log.Printf("%s %s", ch.Action, ch.Key)
	})
	defer stop()
}
