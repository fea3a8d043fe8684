package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inputFile writes content to a file in a new temporary directory and
// returns its path.
func inputFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScanInput(t *testing.T) {
	var big strings.Builder
	big.WriteString("id_cliente_servico;nome\n")
	for i := range 20000 {
		fmt.Fprintf(&big, "%d;cliente %d\n", 100000+i, i)
	}
	big.WriteString("100007;de novo\n") // line 20002, first seen on line 9

	tests := []struct {
		name string
		in   string
		rows int
		dups map[int64]int
	}{
		{
			name: "no dups",
			in:   "id_cliente_servico\n1\n2\n3\n",
			rows: 3,
		},
		{
			name: "dups point at the first occurrence",
			in:   "id_cliente_servico\n5\n7\n5\n9\n7\n5\n",
			rows: 6,
			dups: map[int64]int{5: 2, 7: 3},
		},
		{
			name: "same id written differently",
			in:   "id_cliente_servico\n011000\n 11000 \n",
			rows: 2,
			dups: map[int64]int{11000: 2},
		},
		{
			name: "invalid ids are rows but never dups",
			in:   "id_cliente_servico\n0\n0\nabc\nabc\n\n\n-1\n-1\n12.5\n12.5\n",
			rows: 8,
		},
		{
			name: "headerless: first occurrence on line 1",
			in:   "42\n43\n42\n",
			rows: 3,
			dups: map[int64]int{42: 1},
		},
		{
			name: "blank lines are not rows; lines stay right",
			in:   "\xEF\xBB\xBFid_cliente_servico\r\n\r\n8\r\n\r\n8\r\n\r\n\r\n",
			rows: 2,
			dups: map[int64]int{8: 3},
		},
		{
			name: "quoted multi-line cells",
			in:   "nome,id_cliente_servico\n\"a\nb\",3\nc,3\n",
			rows: 2,
			dups: map[int64]int{3: 2},
		},
		{
			name: "ids at the ends of the range",
			in:   "id_cliente_servico\n1\n9223372036854775807\n63\n64\n9223372036854775807\n1\n",
			rows: 6,
			dups: map[int64]int{1: 2, 9223372036854775807: 3},
		},
		{
			name: "no newline at the end",
			in:   "id_cliente_servico\n1\n1",
			rows: 2,
			dups: map[int64]int{1: 2},
		},
		{
			name: "larger than the first-line window",
			in:   big.String(),
			rows: 20001,
			dups: map[int64]int{100007: 9},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ScanInput(inputFile(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(tt.in))
			if got, want := p.Identity, (Identity{Size: int64(len(tt.in)), SHA256: hex.EncodeToString(sum[:])}); got != want {
				t.Errorf("got identity %+v, want %+v", got, want)
			}
			if p.Rows != tt.rows {
				t.Errorf("got %d rows, want %d", p.Rows, tt.rows)
			}
			if len(tt.dups) == 0 {
				if p.Dups != nil {
					t.Errorf("got dups %v, want nil", p.Dups)
				}
			} else if !maps.Equal(p.Dups, tt.dups) {
				t.Errorf("got dups %v, want %v", p.Dups, tt.dups)
			}
		})
	}
}

func TestScanInputIdentityChanges(t *testing.T) {
	a, err := ScanInput(inputFile(t, "id_cliente_servico\n1\n2\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ScanInput(inputFile(t, "id_cliente_servico\n1\n3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Identity == b.Identity {
		t.Errorf("got the same identity %+v for different files", a.Identity)
	}
}

func TestScanInputErrors(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.csv")
		_, err := ScanInput(path)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Path != path {
			t.Fatalf("got %v, want an *InputError for %s", err, path)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want it to wrap fs.ErrNotExist", err)
		}
	})
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "empty"},
		{"no id column", "a,b\n1,2\n", "no id_cliente_servico column"},
		{"broken last line", "id_cliente_servico\n1\n2\n\"3\n", "line 4"},
		{"bare quote", "id_cliente_servico\n1\n2\"\n3\n", "line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := inputFile(t, tt.in)
			_, err := ScanInput(path)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *InputError", err)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want the path and %q", err, tt.want)
			}
		})
	}
}

func TestIDSet(t *testing.T) {
	s := idSet{}
	ids := []int64{1, 2, 62, 63, 64, 65, 127, 128, 1 << 32, math.MaxInt64 - 64, math.MaxInt64 - 1, math.MaxInt64}
	for _, id := range ids {
		if !s.add(id) {
			t.Errorf("add(%d) first time: got false, want true", id)
		}
	}
	for _, id := range ids {
		if s.add(id) {
			t.Errorf("add(%d) second time: got true, want false", id)
		}
	}
	// Neighbours of the ids, in the same words, were never added.
	for _, id := range []int64{3, 61, 66, 126, 129, 1<<32 + 1, 1<<32 - 1, math.MaxInt64 - 2, math.MaxInt64 - 63} {
		if !s.add(id) {
			t.Errorf("add(%d): got false, want true (never added)", id)
		}
	}
	// Dense ids share words: 1..128 take 3 words, with the ids above.
	if len(s) > 3+6 {
		t.Errorf("got %d words, want at most 9", len(s))
	}
}
