"""What every simulator is built from: serving, fault injection, outbound delivery, control API."""
