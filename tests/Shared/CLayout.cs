using System.Diagnostics;

namespace BpfSteer.Testing;

/// <summary>
/// Asks the C compiler for sizes and offsets, so a struct shared with C is checked against the real header,
/// not against numbers copied into the test.
/// </summary>
public static class CLayout
{
    /// <summary>Compiles and runs a C program that prints each expression (as a signed long long) on its own line.</summary>
    /// <param name="prelude">#includes and definitions.</param>
    /// <param name="expressions">e.g. "sizeof(struct tcp_info)", "offsetof(struct tcp_info, tcpi_bytes_acked)".</param>
    public static long[] Evaluate(string prelude, params string[] expressions)
    {
        var dir = Directory.CreateTempSubdirectory("clayout");
        try
        {
            var src = Path.Combine(dir.FullName, "layout.c");
            var exe = Path.Combine(dir.FullName, "layout");
            var prints = string.Concat(expressions.Select(e => $"  printf(\"%lld\\n\", (long long)({e}));\n"));
            File.WriteAllText(src, $"#define _GNU_SOURCE\n#include <stdio.h>\n#include <stddef.h>\n{prelude}\nint main(void) {{\n{prints}  return 0;\n}}\n");
            Run("clang", $"-I{RepoRoot()}/bpf -o {exe} {src}");
            return Run(exe, "").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Solution.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Solution.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(60_000) || p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {args} failed ({(p.HasExited ? p.ExitCode : -1)}): {stderr}");
        }
        return stdout;
    }
}
