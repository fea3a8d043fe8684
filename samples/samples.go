// Package samples holds example input files. clientes.csv is a pt-BR Excel
// export (';' delimiter, UTF-8 BOM, CRLF line ends) with the oddities real
// files have: an empty id, typos, a duplicate, extra columns. The demo runs
// it, so it is embedded and the demo works from any directory.
package samples

import _ "embed"

// Clientes is samples/clientes.csv.
//
//go:embed clientes.csv
var Clientes []byte
