package jose_test

// Test-only peers for differential tests and benchmarks; pinned here so
// that go.mod keeps them (see ../shared/DEPENDENCIES.md).
import (
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/lestrrat-go/jwx/v3/jws"
)
