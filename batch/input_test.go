package batch

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every row of in, and returns the rows read before the
// first error, and that error (nil at a clean end).
func readAll(t *testing.T, in string) (*Reader, []Row, error) {
	t.Helper()
	rd, err := NewReader(strings.NewReader(in))
	if err != nil {
		return nil, nil, err
	}
	var rows []Row
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd, rows, nil
		}
		if err != nil {
			return rd, rows, err
		}
		rows = append(rows, row)
		if len(rows) > 1000 {
			t.Fatal("Next does not end")
		}
	}
}

// okRow is a valid row.
func okRow(line int, id int64, raw string) Row { return Row{Line: line, Raw: raw, ID: id} }

// badRow is an invalid row.
func badRow(line int, raw string) Row { return Row{Line: line, Raw: raw} }

func TestReader(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		want       []Row
		comma      rune // 0: not checked
		headerless bool
	}{
		{
			name:  "comma",
			in:    "id_cliente_servico,nome\n11000,Ana\n11001,Bruno\n",
			want:  []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001")},
			comma: ',',
		},
		{
			name:  "semicolon, as Excel pt-BR writes",
			in:    "nome;id_cliente_servico\nAna;11000\nBruno;11001\n",
			want:  []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001")},
			comma: ';',
		},
		{
			name:  "tab",
			in:    "id_cliente_servico\tnome\n11000\tAna\n11001\tBruno, Silva\n",
			want:  []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001")},
			comma: '\t',
		},
		{
			name:  "UTF-8 BOM",
			in:    "\xEF\xBB\xBFid_cliente_servico;nome\n11000;Ana\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: ';',
		},
		{
			name:  "UTF-8 BOM before a quoted header",
			in:    "\xEF\xBB\xBF\"id_cliente_servico\";\"nome\"\n\"11000\";\"Ana\"\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: ';',
		},
		{
			name:  "CRLF",
			in:    "id_cliente_servico;nome\r\n11000;Ana\r\n11001;Bruno\r\n",
			want:  []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001")},
			comma: ';',
		},
		{
			name:       "CRLF, headerless, no newline at the end",
			in:         "11000\r\n11001",
			want:       []Row{okRow(1, 11000, "11000"), okRow(2, 11001, "11001")},
			headerless: true,
		},
		{
			name: "header with spaces and capitals",
			in:   "  ID_Cliente_Servico ,nome\n11000,Ana\n",
			want: []Row{okRow(2, 11000, "11000")},
		},
		{
			name: "header with non-breaking spaces",
			in:   "nome;\u00a0id_cliente_servico\u00a0\nAna;11000\n",
			want: []Row{okRow(2, 11000, "11000")},
		},
		{
			name: "id column last of three",
			in:   "nome,cidade,id_cliente_servico\nAna,Recife,11000\nBruno,Olinda,11001\n",
			want: []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001")},
		},
		{
			name: "ragged rows: extra and missing cells",
			in:   "nome,id_cliente_servico,obs\nAna,11000\nBruno,11001,x,y,z\nCarla\n,11003,\n",
			want: []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001"), badRow(4, ""), okRow(5, 11003, "11003")},
		},
		{
			name:       "headerless single column: the first id is line 1",
			in:         "11000\n11001\n11002\n",
			want:       []Row{okRow(1, 11000, "11000"), okRow(2, 11001, "11001"), okRow(3, 11002, "11002")},
			headerless: true,
		},
		{
			name:       "headerless, first value negative",
			in:         "-5\n11000\n",
			want:       []Row{badRow(1, "-5"), okRow(2, 11000, "11000")},
			headerless: true,
		},
		{
			name:       "headerless, first value decimal",
			in:         "12.5\n11000\n",
			want:       []Row{badRow(1, "12.5"), okRow(2, 11000, "11000")},
			headerless: true,
		},
		{
			name:       "headerless, first value with pt-BR thousands",
			in:         "11.000\n+5\n",
			want:       []Row{badRow(1, "11.000"), badRow(2, "+5")},
			headerless: true,
		},
		{
			name:       "headerless, first value quoted",
			in:         "\"11000\"\n11001\n",
			want:       []Row{okRow(1, 11000, "11000"), okRow(2, 11001, "11001")},
			headerless: true,
		},
		{
			// "1,5" is one and a half in pt-BR, not id 1.
			name:       "headerless, a later line with two cells is invalid",
			in:         "11000\n1,5\n11001\n",
			want:       []Row{okRow(1, 11000, "11000"), badRow(2, "1,5"), okRow(3, 11001, "11001")},
			headerless: true,
		},
		{
			name:       "headerless, a later line ending in a delimiter is invalid",
			in:         "11000\n11001,\n",
			want:       []Row{okRow(1, 11000, "11000"), badRow(2, "11001,")},
			headerless: true,
		},
		{
			name: "quoted cells with delimiters and newlines keep later lines right",
			in:   "nome,id_cliente_servico\n\"Silva, Ana\nsegunda linha\",11000\nBruno,11001\n\"a\r\nb\r\nc\",11002\nD,11003\n",
			want: []Row{okRow(2, 11000, "11000"), okRow(4, 11001, "11001"), okRow(5, 11002, "11002"), okRow(8, 11003, "11003")},
		},
		{
			name: "quoted id with a newline is invalid, on one line",
			in:   "id_cliente_servico\n\"110\n00\"\n11001\n",
			want: []Row{badRow(2, "110 00"), okRow(4, 11001, "11001")},
		},
		{
			name: "quoted id with embedded delimiter",
			in:   "id_cliente_servico,nome\n\"11,000\",Ana\n",
			want: []Row{badRow(2, "11,000")},
		},
		{
			// encoding/csv skips empty lines; rows keep their real lines
			// and blank lines are not rows.
			name: "blank lines are skipped, line numbers stay right",
			in:   "id_cliente_servico\n\n11000\n\n\n11001\n\n",
			want: []Row{okRow(3, 11000, "11000"), okRow(6, 11001, "11001")},
		},
		{
			name: "blank CRLF lines are skipped",
			in:   "id_cliente_servico\r\n\r\n11000\r\n\r\n11001\r\n\r\n",
			want: []Row{okRow(3, 11000, "11000"), okRow(5, 11001, "11001")},
		},
		{
			name: "blank lines before a header",
			in:   "\n\nid_cliente_servico\n11000\n",
			want: []Row{okRow(4, 11000, "11000")},
		},
		{
			name:       "blank lines before a headerless file",
			in:         "\n\n11000\n11001\n",
			want:       []Row{okRow(3, 11000, "11000"), okRow(4, 11001, "11001")},
			headerless: true,
		},
		{
			// Not blank to encoding/csv: a row of empty cells, which
			// Excel writes for a cleared row. It is reported, not lost.
			name: "a line of delimiters only is an invalid empty row",
			in:   "id_cliente_servico;nome\n;;\n11000;Ana\n",
			want: []Row{badRow(2, ""), okRow(3, 11000, "11000")},
		},
		{
			name:       "a line of spaces only is an invalid empty row",
			in:         "11000\n   \n11001\n",
			want:       []Row{okRow(1, 11000, "11000"), badRow(2, ""), okRow(3, 11001, "11001")},
			headerless: true,
		},
		{
			name: "spaces, tabs and non-breaking spaces around ids",
			in:   "id_cliente_servico;nome\n  11000  ;Ana\n\u00a011001\u00a0;Bruno\n\t11002\t;Carla\n\" 11003 \";Davi\n",
			want: []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001"), okRow(4, 11002, "11002"), okRow(5, 11003, "11003")},
		},
		{
			name: "leading zeros",
			in:   "id_cliente_servico\n011000\n0000000000000000000000000011001\n",
			want: []Row{okRow(2, 11000, "011000"), okRow(3, 11001, "0000000000000000000000000011001")},
		},
		{
			name: "ids that are not integers greater than 0",
			in: "id_cliente_servico;x\n+5;a\n1e3;a\n12.5;a\n11.000;a\n11,000;a\n0;a\n000;a\n-1;a\n" +
				"99999999999999999999;a\n9223372036854775808;a\n1 000;a\n0x1F;a\n١٢٣;a\n;a\nabc;a\n",
			want: []Row{
				badRow(2, "+5"), badRow(3, "1e3"), badRow(4, "12.5"), badRow(5, "11.000"), badRow(6, "11,000"), badRow(7, "0"), badRow(8, "000"), badRow(9, "-1"),
				badRow(10, "99999999999999999999"), badRow(11, "9223372036854775808"), badRow(12, "1 000"), badRow(13, "0x1F"), badRow(14, "١٢٣"), badRow(15, ""), badRow(16, "abc"),
			},
		},
		{
			name: "largest id",
			in:   "id_cliente_servico\n9223372036854775807\n1\n",
			want: []Row{okRow(2, 9223372036854775807, "9223372036854775807"), okRow(3, 1, "1")},
		},
		{
			name:  "delimiter tie: the one that finds the id column wins",
			in:    "id_cliente_servico,nome;sobrenome\n11000,Ana;Silva\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: ',',
		},
		{
			name:  "delimiter tie: semicolon, with a comma inside a name",
			in:    "id_cliente_servico;valor (R$, bruto)\n11000;1,5\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: ';',
		},
		{
			name:  "delimiter tie between tab and comma",
			in:    "nome, sobrenome\tid_cliente_servico\nAna, Silva\t11000\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: '\t',
		},
		{
			name:  "fewer delimiters, but the one that finds the id column",
			in:    "id_cliente_servico;nome, sobrenome, apelido\n11000;Silva, Ana, Aninha\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: ';',
		},
		{
			name:  "header cells with commas inside quotes",
			in:    "\"Nome, completo\";id_cliente_servico;\"Obs, 1, 2\"\n\"Silva, Ana\";11000;\"a, b\"\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: ';',
		},
		{
			name:  "header cells with semicolons inside quotes",
			in:    "\"Nome; completo\",id_cliente_servico,\"a;b;c\"\n\"Silva; Ana\",11000,x\n",
			want:  []Row{okRow(2, 11000, "11000")},
			comma: ',',
		},
		{
			name: "header only",
			in:   "id_cliente_servico\n",
			want: nil,
		},
		{
			name: "long header past the first 64 KiB",
			in:   strings.Repeat("col,", 20000) + "id_cliente_servico\n" + strings.Repeat("x,", 20000) + "11000\n",
			want: []Row{okRow(2, 11000, "11000")},
		},
		{
			name:       "a lone CR at the end of the file",
			in:         "11000\n11001\r",
			want:       []Row{okRow(1, 11000, "11000"), okRow(2, 11001, "11001")},
			headerless: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, rows, err := readAll(t, tt.in)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !slices.Equal(rows, tt.want) {
				t.Errorf("got rows %+v, want %+v", rows, tt.want)
			}
			if tt.comma != 0 && rd.Comma != tt.comma {
				t.Errorf("got delimiter %q, want %q", rd.Comma, tt.comma)
			}
			if rd.Header == tt.headerless {
				t.Errorf("got Header %v, want %v", rd.Header, !tt.headerless)
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Row // rows before the error
		errs []string
	}{
		{name: "empty file", in: "", errs: []string{"empty"}},
		{name: "only a BOM", in: "\xEF\xBB\xBF", errs: []string{"empty"}},
		{name: "only blank lines", in: "\n\r\n  \n\t\n", errs: []string{"empty"}},
		{name: "UTF-16 LE", in: "\xFF\xFEi\x00d\x00\n\x00", errs: []string{"UTF-16", "CSV UTF-8"}},
		{name: "UTF-16 BE", in: "\xFE\xFF\x00i\x00d", errs: []string{"UTF-16"}},
		{name: "UTF-16 without BOM", in: "i\x00d\x00_\x00\n\x001\x00", errs: []string{"NUL"}},
		{name: "xlsx", in: "PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00[Content_Types].xml", errs: []string{"NUL", "xlsx"}},
		{
			name: "header without the id column lists what it found",
			in:   "nome;cidade;id_cliente\nAna;Recife;11000\n",
			errs: []string{"line 1", "no id_cliente_servico column", `"nome", "cidade", "id_cliente"`, `';'`},
		},
		{
			name: "one-word header that is not the id column",
			in:   "cliente\n11000\n",
			errs: []string{"line 1", `"cliente"`, "neither a header"},
		},
		{
			name: "headerless with an exponent first",
			in:   "1e3\n11000\n",
			errs: []string{"line 1", `"1e3"`},
		},
		{
			name: "the header after blank lines is named by its line",
			in:   "\n\nnome,cidade\n",
			errs: []string{"line 3", "no id_cliente_servico column"},
		},
		{
			name: "two id columns",
			in:   "id_cliente_servico;nome;ID_CLIENTE_SERVICO \n1;a;2\n",
			errs: []string{"line 1", "two id_cliente_servico columns (1 and 3)"},
		},
		{
			name: "stray quote opening a cell",
			in:   "id_cliente_servico\n11000\n\"11001\n11002\n11003\n",
			want: []Row{okRow(2, 11000, "11000")},
			errs: []string{"line 3", "stray"},
		},
		{
			name: "stray quote inside a cell",
			in:   "id_cliente_servico\n11000\n110\"01\n11002\n",
			want: []Row{okRow(2, 11000, "11000")},
			errs: []string{"line 3", `bare "`},
		},
		{
			name: "text after a closing quote",
			in:   "id_cliente_servico\n\"11000\"x\n11001\n",
			errs: []string{"line 2"},
		},
		{
			name: "stray quote in the header",
			in:   "\"id_cliente_servico\n11000\n",
			errs: []string{"line 1", "stray"},
		},
		{
			name: "stray quote in a headerless file",
			in:   "11000\n11001\n\"11002\n",
			want: []Row{okRow(1, 11000, "11000"), okRow(2, 11001, "11001")},
			errs: []string{"line 3"},
		},
		{
			name: "CR-only line endings",
			in:   "id_cliente_servico\r11000\r11001\r",
			errs: []string{"CR only"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rows, err := readAll(t, tt.in)
			if err == nil {
				t.Fatalf("got rows %+v and no error, want an error", rows)
			}
			for _, s := range tt.errs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("got error %q, want it to contain %q", err, s)
				}
			}
			if !slices.Equal(rows, tt.want) {
				t.Errorf("got rows %+v before the error, want %+v", rows, tt.want)
			}
		})
	}
}

func TestReaderSlowSource(t *testing.T) {
	// One byte per Read: the first-line peek must not depend on getting
	// the whole head at once.
	in := "\xEF\xBB\xBFnome;id_cliente_servico\r\nAna;11000\r\n\"Bruno; Silva\";11001\r\n"
	rd, err := NewReader(iotest.OneByteReader(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	var got []Row
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, row)
	}
	want := []Row{okRow(2, 11000, "11000"), okRow(3, 11001, "11001")}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := NewReader(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want %v", err, boom)
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1", 1},
		{"11000", 11000},
		{"011000", 11000},
		{"9223372036854775807", 9223372036854775807},
		{"00009223372036854775807", 9223372036854775807},
		{"9223372036854775808", 0},
		{"99999999999999999999", 0},
		{"0", 0},
		{"00", 0},
		{"", 0},
		{"-1", 0},
		{"+5", 0},
		{"1e3", 0},
		{"12.5", 0},
		{"11.000", 0},
		{"11,000", 0},
		{"1_000", 0},
		{"0x10", 0},
		{" 1", 0}, // the Reader trims; parseID does not
		{"１２", 0}, // full-width digits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := parseID(tt.in); got != tt.want {
				t.Errorf("parseID(%q): got %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestInputInvalidReason(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"empty", "", "id_cliente_servico is empty"},
		{"decimal", "12.5", `id_cliente_servico must be an integer greater than 0, got "12.5"`},
		{"long is clipped", strings.Repeat("9", 100), `got "` + strings.Repeat("9", 60) + `…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InvalidReason(tt.raw); !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestInputDetectComma(t *testing.T) {
	tests := []struct {
		line string
		want rune
	}{
		{"id_cliente_servico", ','},
		{"11000", ','},
		{"a,b,c", ','},
		{"a;b;c", ';'},
		{"a\tb\tc", '\t'},
		{"a;b,c", ';'},   // tie, no id column: ';' first
		{"a\tb,c", '\t'}, // tie, no id column: tab before ','
		{"a,b,c;id_cliente_servico", ';'},
		{"id_cliente_servico;a,b,c", ';'},
		{"\"a,b,c\";d", ';'},    // delimiters inside quotes do not count
		{"\"a\"\"b,c\";d", ';'}, // nor do they after an escaped quote
		{"\"id_cliente_servico\",x;y", ','},
		{"\" ID_Cliente_Servico \"\tx,y", '\t'},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			if got := detectComma([]byte(tt.line)); got != tt.want {
				t.Errorf("detectComma(%q): got %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}
