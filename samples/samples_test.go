package samples_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/hsbatch/hsbatch/batch"
	"github.com/hsbatch/hsbatch/samples"
)

// The demo runs the embedded copy; it must be the file the README links to,
// and it must show the oddities the demo promises.
func TestClientesIsTheDemoInput(t *testing.T) {
	disk, err := os.ReadFile("clientes.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, samples.Clientes) {
		t.Fatal("the embedded clientes.csv differs from samples/clientes.csv")
	}
	rd, err := batch.NewReader(bytes.NewReader(samples.Clientes))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	if rd.Comma != ';' || !rd.Header {
		t.Errorf("got delimiter %q header %v, want ';' with a header", rd.Comma, rd.Header)
	}
	rows, invalid, seen, dups := 0, 0, map[int64]bool{}, 0
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows++
		switch {
		case r.ID == 0:
			invalid++
		case seen[r.ID]:
			dups++
		}
		seen[r.ID] = true
	}
	if rows != 197 || invalid != 4 || dups != 2 {
		t.Errorf("got %d rows, %d invalid, %d duplicates; want 197, 4, 2", rows, invalid, dups)
	}
}
