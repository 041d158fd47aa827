#!/usr/bin/env bash
nvcc -std=c++17 -arch=sm_90a -O3 -o /tmp/stream .lab4/stream.cu > $OUT/lab-build.txt 2>&1 || cat $OUT/lab-build.txt
/tmp/stream 2>&1
