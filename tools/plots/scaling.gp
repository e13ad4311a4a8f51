# Thread-count scaling from a gilfree-tour --scaling run (see plot_tour.sh):
# gilfree threads vs CPython threads vs CPython processes, each against its own sequential run.
#   gnuplot -e "dat='DIR'; png='DIR'; key='scale_integrate'; what='...'; cores=16" scaling.gp
if (!exists("title_suffix")) title_suffix = ""
set terminal pngcairo size 900,500 font "DejaVu Sans,11" noenhanced
set datafile missing "-"
set key top left
set grid
set xlabel "threads / processes"
set ylabel "speed-up (×)"
set logscale x 2
set xrange [0.8:*]
set yrange [0:*]
set output png."/".key.".png"
set title what.title_suffix
plot dat."/".key.".dat" using 1:2 with linespoints title "gilfree threads" lw 2 pt 7 lc rgb "#1b9e77", \
     ''                 using 1:3 with linespoints title "CPython threads" lw 2 pt 5 lc rgb "#d95f02", \
     ''                 using 1:4 with linespoints title "CPython processes" lw 2 pt 9 lc rgb "#7570b3", \
     ''                 using 1:5 with linespoints title "gilfree processes" lw 2 pt 11 lc rgb "#66a61e", \
     (x < cores ? x : cores) title sprintf("ideal on %d cores", cores) dt 2 lc rgb "gray"
