package charttest

import "flag"

var update = flag.Bool("update", false, "regenerate the chart README's values table from values.yaml")
