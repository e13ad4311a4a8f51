# Draws queue and pool throughput against the peers from bench2dat.py's tables
# (run plot_bench.sh).   gnuplot -e "dat='DIR'; png='DIR'" bench.gp
if (!exists("dat")) dat = "."
if (!exists("png")) png = "."
if (!exists("title_suffix")) title_suffix = ""
set terminal pngcairo size 900,500 font "DejaVu Sans,11" noenhanced
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top right
set grid ytics
set xtics nomirror
set ytics nomirror
set logscale y
set yrange [0.01:*]

set output png."/queue_throughput.png"
set title "Queue(1024), 2,000,000 ints: throughput, log scale".title_suffix
set ylabel "M items/s"
plot dat."/queue.dat" using 2:xtic(1) title "1 producer / 1 consumer" lc rgb "#1b9e77", \
     ''               using 3 title "2 producers / 2 consumers" lc rgb "#d95f02"

set output png."/pool_throughput.png"
set title "1,000,000 empty tasks on 2 workers: throughput, log scale".title_suffix
set ylabel "M tasks/s"
set key off
plot dat."/pool.dat" using 2:xtic(1) lc rgb "#1b9e77"
