// Package logging builds herald's zerolog logger and owns phone-number
// redaction in logs.
//
// Every byte a herald logger writes passes through a masking io.Writer that
// replaces each E.164-looking number (+4915112345678, whatsapp:+..., the
// URL-encoded %2B4915112345678, numbers inside JSON strings and error texts)
// with a masked form such as +49151*****78. Masking happens in the writer
// because zerolog hooks cannot change fields. The masked form is the one
// bot.MaskPhone gives (a test in internal/houserules keeps them equal).
//
// This package imports only the standard library, zerolog and go-isatty
// (console output only when stderr is a terminal). It must never
// import bot, adapters or other internal packages: everything may log, so
// logging depends on nothing of herald's.
package logging
