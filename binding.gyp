{
  "targets": [
    {
      "target_name": "asyncore_native",
      "sources": ["native/socket.cc"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-Wall", "-Wextra", "-O2", "-fno-exceptions"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS != 'linux'", { "type": "none" }]
      ]
    }
  ]
}
