package sqldb

import "testing"

func TestDollar(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                     "SELECT 1",
		"a = ? AND b = ?":              "a = $1 AND b = $2",
		"INSERT INTO t VALUES (?,?,?)": "INSERT INTO t VALUES ($1,$2,$3)",
	} {
		if got := Dollar(in); got != want {
			t.Errorf("Dollar(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenSQLiteMemory(t *testing.T) {
	db, err := OpenSQLite(":memory:", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE x (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	db.Exec("INSERT INTO x VALUES (1)")
	if _, err := db.Exec("INSERT INTO x VALUES (1)"); !SQLiteUnique(err) {
		t.Fatalf("duplicate key: %v is not a unique violation", err)
	}
}
