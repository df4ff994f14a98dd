{
  "targets": [
    {
      "target_name": "meetzone_udp",
      "sources": ["udp_batch.c"],
      "cflags": ["-O2", "-Wall"],
      "conditions": [["OS!='linux'", { "sources!": ["udp_batch.c"] }]]
    }
  ]
}
