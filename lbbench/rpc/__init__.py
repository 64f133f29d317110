"""lbbench over gRPC: the proto, a gRPC mock target, grpcio's own balancing policies.

``lbbench_pb2`` and ``lbbench_pb2_grpc`` are generated from ``lbbench.proto``
and committed (the command to regenerate them is in the proto's header).
"""
