const es=new EventSource("/api/events");es.addEventListener("state",e=>{document.getElementById("app").textContent=JSON.parse(e.data).phones.length+" phones"});
