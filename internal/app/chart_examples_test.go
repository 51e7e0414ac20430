package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	redisadapter "github.com/heraldops/herald/adapters/redis"
)

// The Helm chart's Redis examples must give herald a REDIS_URL it accepts,
// in the mode each example claims: the chart's own tests cannot import
// herald, so this side checks it.
func TestChartRedisExamplesParse(t *testing.T) {
	want := map[string]redisadapter.Mode{
		"redis-single.yaml":   redisadapter.ModeSingle,
		"redis-sentinel.yaml": redisadapter.ModeSentinel,
		"redis-cluster.yaml":  redisadapter.ModeCluster,
	}
	for file, mode := range want {
		raw, err := os.ReadFile(filepath.Join("..", "..", "charts", "herald", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Redis struct{ URL string } `yaml:"redis"`
		}
		if err := yaml.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		// What Kubernetes does with $(REDIS_PASSWORD) from the Secret.
		url := strings.ReplaceAll(v.Redis.URL, "$(REDIS_PASSWORD)", "pw0Ab")
		target, err := redisadapter.ParseURL(url)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if target.Mode != mode {
			t.Errorf("%s: mode %s, want %s", file, target.Mode, mode)
		}
		if target.Mode == redisadapter.ModeSentinel && (target.Sentinel.Password != "pw0Ab" || target.Sentinel.MasterName == "") {
			t.Errorf("%s: master password %q, master name %q", file, target.Sentinel.Password, target.Sentinel.MasterName)
		}
	}
}
