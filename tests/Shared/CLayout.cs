using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using BpfSteer.Interop;

namespace BpfSteer.Testing;

/// <summary>
/// Asks the C compiler for sizes, offsets and constants, so a struct or value shared with C is checked against the
/// real header, not against numbers copied into the test. Nothing is run: clang compiles each expression into a
/// constant of the target's LLVM IR, so the headers of another architecture can be checked on this machine.
/// </summary>
/// <remarks>
/// The managed side of a comparison is computed by this process's runtime. .NET lays out the blittable structs of
/// Interop/ the same way on x64 and arm64 (both LP64 with natural alignment), so that number is also what arm64 would
/// use; the one struct whose C layout differs between them, epoll_event, is compared per architecture through
/// <see cref="EpollEventLayout"/>.
/// </remarks>
public static partial class CLayout
{
    /// <summary>The architectures whose headers the layout tests compile against: every one BpfSteer runs on.</summary>
    public static TheoryData<Architecture> CheckedArchitectures => new(NativeAbi.CheckedArchitectures);

    /// <summary>Evaluates each expression (as a signed long long) against this machine's headers.</summary>
    /// <param name="prelude">#includes and definitions.</param>
    /// <param name="expressions">e.g. "sizeof(struct tcp_info)", "offsetof(struct tcp_info, tcpi_bytes_acked)".</param>
    public static long[] Evaluate(string prelude, params string[] expressions)
        => Evaluate(RuntimeInformation.ProcessArchitecture, prelude, expressions);

    /// <summary>
    /// Evaluates each expression (as a signed long long) against the headers of <paramref name="target"/>: this
    /// machine's own for its architecture, Debian's cross headers in /usr/&lt;triple&gt;/include for another
    /// (packages libc6-dev-&lt;arch&gt;-cross and linux-libc-dev-&lt;arch&gt;-cross, installed by eng/install-prereqs.sh).
    /// </summary>
    public static long[] Evaluate(Architecture target, string prelude, params string[] expressions)
    {
        var triple = Triple(target);
        var sysroot = "";
        if (target != RuntimeInformation.ProcessArchitecture)
        {
            // --sysroot keeps /usr/include (this machine's headers) out of the search path: a missing cross header
            // is an error, never a silent fall-back to the host's layout.
            var root = $"/usr/{triple}";
            if (!File.Exists($"{root}/include/sys/socket.h") || !File.Exists($"{root}/include/linux/bpf.h"))
            {
                var debianArch = target == Architecture.Arm64 ? "arm64" : "amd64";
                throw new InvalidOperationException($"The {target} C headers are missing from {root}/include. Install the Debian packages " +
                    $"libc6-dev-{debianArch}-cross and linux-libc-dev-{debianArch}-cross (bash eng/install-prereqs.sh does).");
            }
            sysroot = $"--sysroot={root} ";
        }
        var dir = Directory.CreateTempSubdirectory("clayout");
        try
        {
            var src = Path.Combine(dir.FullName, "layout.c");
            var ir = Path.Combine(dir.FullName, "layout.ll");
            var values = string.Concat(expressions.Select((e, i) => $"const long long clayout_value_{i} = (long long)({e});\n"));
            File.WriteAllText(src, $"#define _GNU_SOURCE\n#include <stddef.h>\n{prelude}\n{values}");
            Run("clang", $"--target={triple} {sysroot}-I{RepoRoot()}/bpf -S -emit-llvm -o {ir} {src}");
            var result = new long[expressions.Length];
            var found = 0;
            foreach (Match m in ValueLine().Matches(File.ReadAllText(ir)))
            {
                result[int.Parse(m.Groups[1].Value)] = long.Parse(m.Groups[2].Value);
                found++;
            }
            if (found != expressions.Length)
            {
                throw new InvalidOperationException($"clang's IR for {triple} held {found} of {expressions.Length} values:\n{File.ReadAllText(ir)}");
            }
            return result;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The GNU triple clang compiles for.</summary>
    public static string Triple(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "x86_64-linux-gnu",
        Architecture.Arm64 => "aarch64-linux-gnu",
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "No C target for this architecture."),
    };

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Solution.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Solution.sln not found above " + AppContext.BaseDirectory);
    }

    // e.g. "@clayout_value_3 = dso_local constant i64 -4060, align 8"
    [GeneratedRegex(@"^@clayout_value_(\d+) = .*constant i64 (-?\d+)", RegexOptions.Multiline)]
    private static partial Regex ValueLine();

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
