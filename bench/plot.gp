# plot.gp — draws bench/run.sh's three PNGs from the data files report.awk
# writes into the current directory; `out` is the directory for the PNGs.
if (!exists("out")) out = "./"
set datafile missing "NaN"
set terminal pngcairo size 1200,640 font "DejaVu Sans,11" noenhanced
set grid ytics mytics lc rgb "#dddddd"
set key top left

# ---- round trip by mechanism: p50 bars, whiskers up to p99, both CPU cases
set output out . "rtt_by_mechanism.png"
set title "Round-trip latency by mechanism (64 B for vdds and iceoryx): bar p50, whisker to p99"
set ylabel "round trip (log scale)"
set logscale y
set yrange [50:300000]
set ytics ("100 ns" 100, "300 ns" 300, "1 µs" 1000, "3 µs" 3000, "10 µs" 10000, \
	"30 µs" 30000, "100 µs" 100000)
set style data histogram
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by 30 right scale 0
plot "rtt.dat" using 2:3:4:xtic(1) title "both on one CPU" lc rgb "#4477aa", \
     "" using 5:6:7 title "on two CPUs" lc rgb "#ee7733"

# ---- round trip by payload size
reset
set datafile missing "NaN"
set output out . "latency_by_payload.png"
set multiplot layout 1,2 title "Round trip p50 by payload size (only the first cache line written and read)"
set logscale x 2
set xtics ("64 B" 64, "4 KiB" 4096, "1 MiB" 1048576, "16 MiB" 16777216)
set xrange [40:30000000]
set logscale y
set ylabel "round trip p50, µs (log scale)"
set grid xtics ytics lc rgb "#dddddd"
set ytics (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
set key top left font ",9" opaque
set title "both processes on one CPU"
set yrange [1:20]
plot "payload_same.dat" using 1:($2/1000) with linespoints lw 2 pt 7 lc rgb "#4477aa" title "vdds-wait", \
     "" using 1:($3/1000) with linespoints lw 2 pt 5 lc rgb "#228833" title "vdds-epoll", \
     "" using 1:($4/1000) with linespoints lw 2 pt 9 lc rgb "#66ccee" title "vdds-ws-uring", \
     "" using 1:($5/1000) with linespoints lw 2 pt 11 lc rgb "#ccbb44" title "vdds-ws-epoll", \
     "" using 1:($7/1000) with linespoints lw 2 dt 2 pt 4 lc rgb "#aa3377" title "iceoryx WaitSet"
set title "on two CPUs"
set yrange [0.2:50]
plot "payload_cross.dat" using 1:($2/1000) with linespoints lw 2 pt 7 lc rgb "#4477aa" title "vdds-wait", \
     "" using 1:($3/1000) with linespoints lw 2 pt 5 lc rgb "#228833" title "vdds-epoll", \
     "" using 1:($4/1000) with linespoints lw 2 pt 9 lc rgb "#66ccee" title "vdds-ws-uring", \
     "" using 1:($5/1000) with linespoints lw 2 pt 11 lc rgb "#ccbb44" title "vdds-ws-epoll", \
     "" using 1:($6/1000) with linespoints lw 2 pt 13 lc rgb "#ee6677" title "vdds-spin", \
     "" using 1:($7/1000) with linespoints lw 2 dt 2 pt 4 lc rgb "#aa3377" title "iceoryx WaitSet"
unset multiplot

# ---- throughput by subscriber count
reset
set datafile missing "NaN"
set output out . "throughput_by_subscribers.png"
set title "Throughput, 64 B messages: one blocking publisher on CPU 0, its subscribers on CPU 1"
set xlabel "subscriber processes"
set ylabel "per second (log scale)"
set format y "%.0s%c"
set logscale x 2
set logscale y
set xtics (1, 2, 4, 8, 16)
set xrange [0.8:20]
set grid xtics ytics mytics lc rgb "#dddddd"
set key bottom left
plot "tput.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#4477aa" title "sleeping subscribers: messages", \
     "" using 1:5 with linespoints lw 2 pt 6 dt 2 lc rgb "#4477aa" title "sleeping subscribers: deliveries", \
     "" using 1:2 with linespoints lw 2 pt 5 lc rgb "#ee7733" title "busy subscribers: messages", \
     "" using 1:3 with linespoints lw 2 pt 4 dt 2 lc rgb "#ee7733" title "busy subscribers: deliveries"
