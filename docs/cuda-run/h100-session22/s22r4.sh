#!/usr/bin/env bash
# session 22 run 4 (right after run 3): carry [".gpudeps", ".smol1"]; keeps the second third in /tmp.
cp .smol1 /tmp/smol.part1 && echo "part 1 kept: $(stat -c %s /tmp/smol.part1) bytes"; ls -la /tmp/smol.part*
