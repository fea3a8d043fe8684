package batch

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzReader checks that no input makes the Reader panic or loop, and that
// the rows it returns keep their invariants: lines strictly increase, Raw
// is trimmed and on one line, and ID is what Raw says.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"id_cliente_servico\n11000\n11001\n",
		"id_cliente_servico,nome\n11000,Ana\n11001,\"Silva, Bruno\"\n",
		"nome;id_cliente_servico;cidade\r\nAna;11000;Recife\r\n;;\r\n",
		"\xEF\xBB\xBFID_Cliente_Servico\tobs\n011000\tx\n-5\t\n",
		"11000\n11001\n\n11002",
		"-5\n12.5\n1,5\n",
		"nome,id_cliente_servico\n\"a\nb\",1\n\"c\"\"d\",2\n",
		"id_cliente_servico\n\"11000\n11001\n",
		"id_cliente_servico\n110\"01\n",
		"\xFF\xFEi\x00d\x00",
		"PK\x03\x04\x00\x00",
		"id_cliente_servico\r11000\r",
		"\n\n\u00a011000\u00a0\n9223372036854775807\n9223372036854775808\n",
		"\"id_cliente_servico\",x;y\n1,2;3\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if rd.Comma != ',' && rd.Comma != ';' && rd.Comma != '\t' {
			t.Fatalf("got delimiter %q", rd.Comma)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		last := 0
		if rd.Header {
			last = 1 // data rows come after the header
		}
		// Every row but the first starts on a line of its own, and
		// there are at most len(data)+1 lines.
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatalf("Next returned more than %d rows", n)
			}
			row, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !strings.Contains(err.Error(), "line ") {
					t.Fatalf("got error %q, want it to name a line", err)
				}
				return
			}
			if row.Line <= last {
				t.Fatalf("row %d: got line %d after line %d, want lines to increase", n, row.Line, last)
			}
			if row.Line > lines {
				t.Fatalf("row %d: got line %d, but the input has %d lines", n, row.Line, lines)
			}
			last = row.Line
			if strings.ContainsAny(row.Raw, "\r\n") {
				t.Fatalf("line %d: got Raw %q, want it on one line", row.Line, row.Raw)
			}
			if strings.TrimSpace(row.Raw) != row.Raw {
				t.Fatalf("line %d: got Raw %q, want it trimmed", row.Line, row.Raw)
			}
			if got := parseID(row.Raw); row.ID != got || row.ID < 0 {
				t.Fatalf("line %d: got ID %d for Raw %q, want %d", row.Line, row.ID, row.Raw, got)
			}
		}
	})
}
