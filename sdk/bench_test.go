package sdk

import (
	"strconv"
	"testing"
)

// benchClient holds 1,000 values, as a sizeable application might.
func benchClient(b *testing.B) *Client {
	values := map[string]string{"db.host": `"db1.internal"`, "db.pool.size": `25`}
	for i := range 1000 {
		values["key."+strconv.Itoa(i)] = strconv.Itoa(i)
	}
	return clientWith(b, values)
}

func BenchmarkString(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	var s string
	for b.Loop() {
		s = c.String("db.host", "localhost")
	}
	if s != "db1.internal" {
		b.Fatal(s)
	}
}

func BenchmarkInt(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = c.Int("db.pool.size", 10)
	}
	if n != 25 {
		b.Fatal(n)
	}
}

func BenchmarkStringParallel(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.String("db.host", "localhost") != "db1.internal" {
				b.Error("wrong value")
				return
			}
		}
	})
}
