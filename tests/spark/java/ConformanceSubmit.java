import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.deploy.SparkSubmit;

/**
 * Runs real spark-submits, one per line of standard input, in one JVM (tests/conformance).
 *
 * <p>Each input line is {"id": ..., "args": [...]}: the arguments of one spark-submit. For each,
 * this calls {@code new SparkSubmit().doSubmit(args)}, exactly what bin/spark-submit's main does,
 * and answers one line on standard output: {@code @@result {"id": ..., "ok": true|false, "error":
 * ...}}. Spark's own output goes to standard error. Between submissions every {@code spark.*} system
 * property is removed, so no setting leaks from one submission into the next (a SparkConf reads
 * them). End of input ends the JVM.
 */
public final class ConformanceSubmit {
  private static final String RESULT = "@@result ";

  private ConformanceSubmit() {}

  public static void main(String[] argv) throws Exception {
    ObjectMapper json = new ObjectMapper();
    // Spark and its libraries print to System.out too: keep stdout for answers only.
    PrintStream answers = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    System.setOut(System.err);
    BufferedReader input =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    answers.println(RESULT + "{\"id\": \"\", \"ok\": true, \"ready\": true}");
    String line;
    while ((line = input.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode request = json.readTree(line);
      List<String> args = new ArrayList<>();
      request.get("args").forEach(arg -> args.add(arg.asText()));
      ObjectNode answer = json.createObjectNode();
      answer.put("id", request.get("id").asText());
      clearSparkProperties();
      try {
        new SparkSubmit().doSubmit(args.toArray(new String[0]));
        answer.put("ok", true);
      } catch (Throwable error) {
        answer.put("ok", false);
        answer.put("error", describe(error));
      }
      clearSparkProperties();
      answers.println(RESULT + json.writeValueAsString(answer));
    }
  }

  private static void clearSparkProperties() {
    for (String key : System.getProperties().stringPropertyNames()) {
      if (key.startsWith("spark.") || key.equals("SPARK_SUBMIT")) {
        System.clearProperty(key);
      }
    }
  }

  private static String describe(Throwable error) {
    StringBuilder text = new StringBuilder();
    for (Throwable cause = error; cause != null; cause = cause.getCause()) {
      if (text.length() > 0) {
        text.append(" <- ");
      }
      text.append(cause.getClass().getName()).append(": ").append(cause.getMessage());
      if (cause.getCause() == cause) {
        break;
      }
    }
    return text.toString();
  }
}
