"""HTTP controllers, one per area; each only calls services through the gRPC clients."""
