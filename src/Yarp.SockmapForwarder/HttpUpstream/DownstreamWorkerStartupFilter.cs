using BpfSteer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Yarp.SockmapForwarder.HttpUpstream;

/// <summary>
/// Puts a middleware in front of the app's pipeline that records each request's serving worker in
/// <see cref="DownstreamWorker.Current"/>. Added only when the app runs on the BpfSteer transport.
/// </summary>
internal sealed class DownstreamWorkerStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        if (app.ApplicationServices.GetService<IWorkerLoopProvider>() is not null)
        {
            app.Use(static (context, nextMiddleware) =>
            {
                DownstreamWorker.Current = context.Features.Get<IWorkerLoopFeature>()?.Loop;
                return nextMiddleware(context);
            });
        }
        next(app);
    };
}
