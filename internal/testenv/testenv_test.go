package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgresSchema(t *testing.T) {
	dsn := Postgres(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE TABLE x (id int)"); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := c.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil || schema[:2] != "t_" {
		t.Fatalf("schema %q %v", schema, err)
	}
}

func TestRedis(t *testing.T) {
	if err := Redis(t).Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}
