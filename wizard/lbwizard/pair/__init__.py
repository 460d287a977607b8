"""The HA pair as one system: its SSH identity (keys), what the two units share (shared), the channel to the
peer's lbctl (channel) and one change made on both units (sync)."""
