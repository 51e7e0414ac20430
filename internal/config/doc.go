// Package config loads and checks herald's configuration: the YAML file
// (ARCHITECTURE.md's "Config file" is the contract), the optional recipients
// CSV it names, and the environment variables that carry every secret.
//
// Every problem is reported with the key path and line that caused it
// (`herald.yaml:14: audiences[1].members[0]: unknown recipient "bob"`), and
// all problems are reported at once, so `herald config validate` can list
// them in one run. Phone numbers leave this package validated and in E.164.
//
// It builds the core's values (bot.Directory, bot.Roles, bot.Settings) and
// imports only bot, internal/crypto (to read HERALD_DATA_KEY as the sealer
// does), the standard library, gopkg.in/yaml.v3 and
// github.com/nyaruka/phonenumbers: never an adapter, SDK or driver.
package config
