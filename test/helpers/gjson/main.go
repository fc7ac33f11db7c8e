// gjson PATH < body: what tidwall/gjson (the library KEDA's metrics-api trigger reads JSON
// with, `gjson.GetBytes(body, valueLocation)`) finds at PATH. Prints the result's type and
// its raw JSON. Built by test/helpers/keda.ts against Debian's golang-github-tidwall-gjson-dev.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tidwall/gjson"
)

func main() {
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r := gjson.GetBytes(body, os.Args[1])
	fmt.Printf("%s\n%s\n", r.Type.String(), r.Raw)
}
