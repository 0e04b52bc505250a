ctr version | tee ~/containerd-version.txt
