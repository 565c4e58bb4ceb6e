# "last": local files (and systemd) answer first; the store's allocator
# already refuses names and ids another source uses.
passwd last k8s
group last k8s
