# Achieved decode bandwidth of each model and mode against the SSBO read
# roofline measured in the same run. Input: `pdvm bench --plot RESULTS`
# (tab-separated, a header line; column 4 the roofline, 5.. one series
# each). Called by bench/roofline.sh with -e "data='...'; out='...';
# ncol=N; name='...'".
set terminal svg size 900,520 dynamic enhanced font "sans,11" background "white"
set output out
set datafile separator "\t"
set datafile missing "NaN"
set title sprintf("pdvm decode: achieved GB/s against the measured roofline (%s)", name) noenhanced
set ylabel "GB/s (weights + KV cache read per token x tokens/s)"
set xlabel "model, by weight bytes read per token"
set logscale y
set grid ytics mytics lc rgb "#dddddd"
set xtics rotate by -35 left noenhanced
set key outside right top noenhanced
set offsets 0.5, 0.5, 0, 0
set bmargin 8
set style line 1 lc rgb "#1f77b4" pt 7 ps 1.1
set style line 2 lc rgb "#ff7f0e" pt 5 ps 1.0
set style line 3 lc rgb "#2ca02c" pt 9 ps 1.1
set style line 4 lc rgb "#d62728" pt 11 ps 1.1
set style line 5 lc rgb "#9467bd" pt 13 ps 1.1
set style line 6 lc rgb "#8c564b" pt 4 ps 1.0
stats data using 4 nooutput
plot data using 1:4:xtic(2) with lines lw 2 lc rgb "black" \
         title sprintf("SSBO read roofline, %.3g GB/s", STATS_max), \
     data using 1:($4 / 2) with lines lw 1 dt 2 lc rgb "gray40" title "50% of it", \
     for [c=5:ncol] data using 1:c with points ls (c - 4) title columnhead(c)
