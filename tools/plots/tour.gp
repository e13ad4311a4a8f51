# Draws one of the tour's figures from the tables tour2dat.py writes (run plot_tour.sh).
#   gnuplot -e "dat='DIR'; png='DIR'; which='speedup|sequential|integrate'; cores=2" tour.gp
if (!exists("dat")) dat = "."
if (!exists("png")) png = "."
if (!exists("title_suffix")) title_suffix = ""
if (!exists("cores")) cores = 2
set terminal pngcairo size 900,500 font "DejaVu Sans,11" noenhanced
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key top left
set grid ytics
set xtics nomirror
set ytics nomirror

if (which eq "speedup") {
set output png."/tour_speedup.png"
set title "Speed-up over each side's own sequential run".title_suffix
set ylabel "speed-up (×)"
set yrange [0:*]
plot dat."/speedup.dat" using 2:xtic(1) title "gilfree threads" lc rgb "#1b9e77", \
     ''                 using 3 title "CPython threads" lc rgb "#d95f02", \
     ''                 using 4 title "CPython processes" lc rgb "#7570b3", \
     ''                 using 5 title "gilfree processes" lc rgb "#66a61e", \
     1 with lines dt 2 lc rgb "black" notitle
}

if (which eq "sequential") {
set output png."/tour_sequential.png"
set title "Sequential time on the same work (log scale)".title_suffix
set ylabel "seconds"
set logscale y
set yrange [*:*]
plot dat."/sequential.dat" using 2:xtic(1) title "gilfree" lc rgb "#1b9e77", \
     ''                    using 3 title "CPython" lc rgb "#d95f02"
}

if (which eq "integrate") {
set output png."/tour_integrate.png"
set title "Integration of x² (same N both sides): speed-up by thread count".title_suffix
set style data linespoints
set xlabel "threads"
set ylabel "speed-up (×)"
set yrange [0:*]
set xrange [0.5:*]
set logscale x 2
plot dat."/integrate.dat" using 1:2 title "gilfree threads" lw 2 pt 7 lc rgb "#1b9e77", \
     ''                   using 1:3 title "CPython threads" lw 2 pt 5 lc rgb "#d95f02", \
     (x < cores ? x : cores) title sprintf("ideal on %d cores", cores) dt 2 lc rgb "gray"
}
