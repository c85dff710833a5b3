#!/usr/bin/env bash
# One sitting of the speed figures in docs/PERFORMANCE.md: the ONNX Runtime peer, then Convas's
# benchmarks from test binaries built beforehand, back to back, each with the load average.
# Usage: scripts/bench-sitting.sh [OUTDIR]   (PEER=path/to/ort/run.sh; results in OUTDIR/all.txt)
set -u
OUTD=${1:-/tmp/convas-sitting}; mkdir -p $OUTD
cd "$(dirname "$0")/.."
PEER=${PEER:-../shared/peers/ort/run.sh}
B=$OUTD/bin; mkdir -p $B
for p in train models dream style transfer; do go test -c -o $B/$p.test ./compute/$p/ || exit 1; done
log() { echo "== $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg) $*" | tee -a $OUTD/all.txt; }
log peer
RUNS_224=10 RUNS_512=3 RUNS_MNIST=50 RUNS_INCEPTION=30 bash "$PEER" > $OUTD/peer.txt 2>&1
tail -25 $OUTD/peer.txt >> $OUTD/all.txt
run() { local pkg=$1; shift; log "$pkg $*"; (cd compute/$pkg && $B/$pkg.test -test.run XXX -test.benchmem "$@" 2>&1 | grep -E "^Benchmark|ok|FAIL" | tee -a $OUTD/all.txt); }
run train -test.bench 'MNISTStep' -test.benchtime 20x -test.count 3
run train -test.bench 'CIFARStep' -test.benchtime 5x -test.count 2
run models -test.bench 'VGG19Forward' -test.benchtime 3x -test.count 2
# Each size in a process of its own, so that the peak RSS of /512 (the issue's 1.5 GB) is its own.
run models -test.bench 'VGG19InputGrad/224' -test.benchtime 2x -test.count 2
run models -test.bench 'VGG19InputGrad/512' -test.benchtime 2x -test.count 2
run models -test.bench 'GoogLeNetInputGrad' -test.benchtime 3x -test.count 2
run style -test.bench 'StyleIteration' -test.benchtime 2x -test.count 2
run dream -test.bench 'DreamSeedDefault' -test.benchtime 1x -test.count 2
run transfer -test.bench '.' -test.benchtime 5x -test.count 1
log done
