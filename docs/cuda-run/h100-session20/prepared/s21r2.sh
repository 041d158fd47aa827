#!/usr/bin/env bash
# session 21 run 2 (right after run 1): carry [".gpudeps", ".smol1"]; keeps the second third in /tmp.
cp .smol1 /tmp/smol.part1 && echo "part 1 kept: $(stat -c %s /tmp/smol.part1) bytes"; ls -la /tmp/smol.part*
