package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/store"
)

// dbSchema is the demo schema on db.*: every database setting is an object
// with a host and a port, and an optional pool.
const dbSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "host": {"type": "string", "minLength": 1},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "name": {"type": "string"},
    "pool": {
      "type": "object",
      "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 200},
        "timeout_ms": {"type": "integer", "minimum": 0}
      },
      "additionalProperties": false
    }
  },
  "required": ["host", "port"],
  "additionalProperties": false
}`

type demoValue struct {
	key, typ, value, desc string
	tags                  []string
	ttl                   time.Duration
}

// demoConfigs are the values per environment; later entries of the same key
// become newer versions, so the demo has a history.
var demoConfigs = map[string][]demoValue{
	"development": {
		{"db.primary", "json", `{"host":"localhost","port":5432,"name":"shop_dev","pool":{"size":5,"timeout_ms":2000}}`, "Primary database", []string{"db"}, 0},
		{"db.replica", "json", `{"host":"localhost","port":5433,"name":"shop_dev"}`, "Read replica", []string{"db"}, 0},
		{"cache.redis.url", "string", "redis://localhost:6379/0", "Cache server", []string{"cache"}, 0},
		{"cache.ttl_seconds", "number", "60", "Default cache lifetime", []string{"cache"}, 0},
		{"http.client.timeout", "string", "5s", "Outbound HTTP timeout", []string{"http"}, 0},
		{"http.client.timeout", "string", "3s", "Outbound HTTP timeout", []string{"http"}, 0},
		{"http.client.retries", "number", "3", "Retries for idempotent calls", []string{"http"}, 0},
		{"payment.provider", "string", "stripe-test", "Payment provider", []string{"payment"}, 0},
		{"payment.api_key", "secret", "sk_test_51Kd8demoDevelopmentKey", "Provider API key", []string{"payment"}, 0},
		{"payment.webhook_secret", "secret", "whsec_demo_development", "Webhook signing secret", []string{"payment"}, 0},
		{"feature.new_checkout", "boolean", "true", "New checkout flow", []string{"feature"}, 0},
		{"log.level", "string", "debug", "", nil, 0},
	},
	"staging": {
		{"db.primary", "json", `{"host":"db.staging.internal","port":5432,"name":"shop","pool":{"size":20,"timeout_ms":2000}}`, "Primary database", []string{"db"}, 0},
		{"cache.redis.url", "string", "redis://cache.staging.internal:6379/0", "Cache server", []string{"cache"}, 0},
		{"cache.ttl_seconds", "number", "300", "Default cache lifetime", []string{"cache"}, 0},
		{"http.client.timeout", "string", "3s", "Outbound HTTP timeout", []string{"http"}, 0},
		{"http.client.retries", "number", "3", "Retries for idempotent calls", []string{"http"}, 0},
		{"payment.provider", "string", "stripe-test", "Payment provider", []string{"payment"}, 0},
		{"payment.api_key", "secret", "sk_test_51Kd8demoStagingKey", "Provider API key", []string{"payment"}, 0},
		{"payment.webhook_secret", "secret", "whsec_demo_staging", "Webhook signing secret", []string{"payment"}, 0},
		{"feature.new_checkout", "boolean", "true", "New checkout flow", []string{"feature"}, 0},
		{"log.level", "string", "info", "", nil, 0},
	},
	"qa": {
		{"db.primary", "json", `{"host":"db.qa.internal","port":5432,"name":"shop_qa"}`, "Primary database", []string{"db"}, 0},
		{"log.level", "string", "debug", "QA keeps verbose logs", nil, 0},
	},
	"production": {
		{"db.primary", "json", `{"host":"db.prod.internal","port":5432,"name":"shop","pool":{"size":40,"timeout_ms":1500}}`, "Primary database", []string{"db"}, 0},
		{"db.primary", "json", `{"host":"db.prod.internal","port":5432,"name":"shop","pool":{"size":60,"timeout_ms":1500}}`, "Primary database", []string{"db"}, 0},
		{"db.replica", "json", `{"host":"db-ro.prod.internal","port":5432,"name":"shop"}`, "Read replica", []string{"db"}, 0},
		{"cache.redis.url", "string", "redis://cache.prod.internal:6379/0", "Cache server", []string{"cache"}, 0},
		{"cache.ttl_seconds", "number", "900", "Default cache lifetime", []string{"cache"}, 0},
		{"http.client.timeout", "string", "2s", "Outbound HTTP timeout", []string{"http"}, 0},
		{"http.client.retries", "number", "2", "Retries for idempotent calls", []string{"http"}, 0},
		{"payment.provider", "string", "stripe", "Payment provider", []string{"payment"}, 0},
		{"payment.api_key", "secret", "sk_live_51Kd8demoProductionKey", "Provider API key", []string{"payment"}, 0},
		{"payment.webhook_secret", "secret", "whsec_demo_production", "Webhook signing secret", []string{"payment"}, 0},
		{"feature.new_checkout", "boolean", "false", "New checkout flow", []string{"feature"}, 0},
		{"log.level", "string", "warn", "", nil, 0},
		{"maintenance.banner", "string", "Scheduled maintenance tonight 02:00-02:30 UTC", "Shown on every page", []string{"ops"}, 6 * time.Hour},
	},
}

// loadConfigs adds the configuration demo (a schema on db.*, values in every
// demo environment with real differences and a history) when the store has
// no schema and development has no value yet.
func loadConfigs(ctx context.Context, st *store.Store) (bool, error) {
	schemas, err := st.ListSchemas(ctx)
	if err != nil {
		return false, err
	}
	_, _, total, err := st.ListConfigs(ctx, "development", store.ConfigQuery{Limit: 1})
	if err != nil {
		return false, err
	}
	if len(schemas) > 0 || total > 0 {
		return false, nil
	}
	if _, err := st.PutSchema(ctx, Actor, "db.*", []byte(dbSchema), 0); err != nil {
		return false, fmt.Errorf("demo schema: %w", err)
	}
	for _, env := range []string{"development", "staging", "qa", "production"} {
		if _, err := st.GetEnvironment(ctx, env); err != nil {
			continue // an environment the admin removed
		}
		versions := map[string]int64{}
		for _, v := range demoConfigs[env] {
			t, err := config.ParseType(v.typ)
			if err != nil {
				return false, err
			}
			e, err := st.SetConfig(ctx, Actor, env, store.ConfigWrite{Key: v.key, Type: t, Value: v.value,
				Description: v.desc, Tags: v.tags, TTL: v.ttl, Version: versions[v.key], Comment: "demo data"})
			if err != nil {
				return false, fmt.Errorf("demo config %s in %s: %w", v.key, env, err)
			}
			versions[v.key] = e.Version
		}
	}
	return true, nil
}
