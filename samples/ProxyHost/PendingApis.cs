// TEMPORARY (removed when the transport and yarp branches are merged): stand-ins with the same names as the real
// UseBpfSteeredTransport() and AddSockmapForwarder(), so Program.cs compiles against its final shape meanwhile.
namespace Microsoft.AspNetCore.Hosting
{
    internal static class PendingBpfSteerTransportExtensions
    {
        public static IWebHostBuilder UseBpfSteeredTransport(this IWebHostBuilder builder) => builder;
    }
}

namespace Microsoft.Extensions.DependencyInjection
{
    internal static class PendingSockmapForwarderExtensions
    {
        public static IReverseProxyBuilder AddSockmapForwarder(this IReverseProxyBuilder builder) => builder;
    }
}
