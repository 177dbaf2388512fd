import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/** Pi by Monte Carlo, as Spark's JavaSparkPi: the application a conformance test submits. */
public final class SparkPi {
  public static void main(String[] args) {
    int slices = args.length > 0 ? Integer.parseInt(args[0]) : 2;
    int n = 100_000 * slices;
    List<Integer> samples = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      samples.add(i);
    }
    try (JavaSparkContext jsc = new JavaSparkContext(new SparkConf())) {
      int inside = jsc.parallelize(samples, slices).map(i -> {
        double x = Math.random() * 2 - 1;
        double y = Math.random() * 2 - 1;
        return x * x + y * y <= 1 ? 1 : 0;
      }).reduce(Integer::sum);
      System.out.println("Pi is roughly " + 4.0 * inside / n);
    }
  }
}
