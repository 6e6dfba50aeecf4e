"""HTTP plumbing shared by every vendor package: errors, transport, webhooks, call options."""
