"""Reaching a Dapr pub/sub target (the local stack or a k3d cluster) and measuring it."""
