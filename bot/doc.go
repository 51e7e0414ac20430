// Package bot is herald's domain core: incidents, the stakeholder directory
// (recipients, audiences, templates), broadcasts and their per-recipient
// deliveries, approval, relay planning, reply routing and the failover policy.
//
// It owns the vocabulary every adapter speaks and declares the ports it needs
// (chat, messaging provider, store, queue, rate limiter, clock) as small
// interfaces beside the code that uses them. Adapters under adapters/
// implement those ports; bot never imports an adapter, an SDK or a driver.
// Only the standard library may be imported here.
package bot
