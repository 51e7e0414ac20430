// Package redistest starts real redis-server processes for tests: one per
// test (Start), one per test binary shared by every test in a package (Main
// and Shared, with a unique key prefix per test), or a single-node Redis
// Cluster (StartCluster) that enforces the same slot rules as a real cluster.
//
// It owns nothing but test processes. Only test code may import it; it must
// never import bot/ or adapters/.
package redistest
