"""The watch emitter: one leader (a Lease) watches the cluster and publishes object hints to the queue."""
